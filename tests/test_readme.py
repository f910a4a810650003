"""The README's Python snippets run as written (they are what a newcomer copies first)."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r'```python\n(.*?)```', README.read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)          # the tour saves a checkpoint in the working directory
    namespace = {}
    exec(compile('\n'.join(blocks), str(README), 'exec'), namespace)
    assert namespace['loss'].item() < 3.0
    assert set(namespace['state']) == {'model', 'optimizer'}
    assert (tmp_path / 'ckpt.pt').exists()
