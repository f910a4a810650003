"""A tiny autograd demo: fit y = 3x - 2 (+ noise) with plain tensors and gradient descent.

Run:  python -m ember.examples.autograd_demo   (add --device cuda on a machine with CuPy and a GPU)
"""
import argparse

import ember as torch  # the PyTorch code below runs unchanged on ember


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--steps', type=int, default=200)
    args = parser.parse_args()

    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 100, device=args.device).unsqueeze(1)
    y = 3 * x - 2 + 0.1 * torch.randn(100, 1, device=args.device)

    w = torch.zeros(1, 1, device=args.device, requires_grad=True)
    b = torch.zeros(1, device=args.device, requires_grad=True)
    lr = 0.1
    for step in range(args.steps + 1):
        pred = x @ w + b
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
        if step % 50 == 0:
            print(f'step {step:3d}  loss {loss.item():.4f}')
    print(f'learned w = {w.item():.3f}, b = {b.item():.3f}  (true: 3, -2)')
    print(w, b, loss.grad_fn, sep='\n')


if __name__ == '__main__':
    main()
