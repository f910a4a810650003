"""Train a small CNN on the UCI handwritten digits (1,797 8x8 images) with ember.

    python -m ember.examples.digits [--epochs 12] [--device cpu|cuda] [--out DIR]

Written exactly as a PyTorch script (``import ember as torch``): a Dataset and DataLoader,
a model summary, Adam, a progress bar per epoch (tqdm when installed), per-epoch loss and
accuracy, a checkpoint saved at the end and reloaded to check the accuracy is identical, and
(with matplotlib installed) a PNG of the learning curves and a few test digits.
"""
import argparse
import os
import time

import numpy as np

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.examples._progress import Progress
from ember.utils.data import DataLoader, TensorDataset

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'digits.npz')


def load_digits(seed=0, test_fraction=0.2):
    """(train, test) TensorDatasets of (1, 8, 8) float images scaled to [0, 1] and labels."""
    d = np.load(DATA)
    x = torch.tensor(d['images'], dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d['labels'], dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(y) * test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


class DigitNet(nn.Module):
    """conv-BN-ReLU x2, max-pool, dropout, two linear layers: (N, 1, 8, 8) -> (N, 10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def evaluate(model, loader, device):
    """(mean loss, accuracy) over a loader, in eval mode without a graph."""
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction='sum').item()
            correct += (logits.argmax(1) == y).sum().item()
            total += len(y)
    return loss_sum / total, correct / total


def plot(history, model, test_set, device, path):
    """Learning curves and a few test digits with their predicted labels (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig = plt.figure(figsize=(10, 6))
    ax1 = fig.add_subplot(2, 2, 1)
    ax1.plot(history['train_loss'], label='train')
    ax1.plot(history['test_loss'], label='test')
    ax1.set_title('cross-entropy loss')
    ax1.set_xlabel('epoch')
    ax1.legend()
    ax2 = fig.add_subplot(2, 2, 2)
    ax2.plot(history['test_acc'], color='tab:green')
    ax2.set_title('test accuracy')
    ax2.set_xlabel('epoch')
    model.eval()
    x, y = test_set[:8]
    with torch.no_grad():
        pred = model(x.to(device)).argmax(1).cpu()
    for i in range(8):
        ax = fig.add_subplot(4, 8, 17 + i)
        ax.imshow(x[i, 0].numpy(), cmap='gray_r')
        ax.set_title(f'pred {pred[i].item()}', color='k' if pred[i] == y[i] else 'r', fontsize=9)
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='.', help='where the checkpoint and PNG go')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train_set, test_set = load_digits(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(args.seed))
    test_loader = DataLoader(test_set, batch_size=256)
    device = torch.device(args.device)
    model = DigitNet().to(device)
    print(f'{len(train_set)} training and {len(test_set)} test images, device {device}')
    print(torch.summary(model, input_size=(1, 1, 8, 8), device=device, verbose=0))

    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    history = {'train_loss': [], 'test_loss': [], 'test_acc': []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        running, seen = 0.0, 0
        bar = Progress(len(train_loader), desc=f'epoch {epoch:2d}')
        for step, (x, y) in enumerate(train_loader, 1):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(y)
            seen += len(y)
            bar.update(step, running / seen)
        bar.close()
        scheduler.step()
        test_loss, test_acc = evaluate(model, test_loader, device)
        history['train_loss'].append(running / seen)
        history['test_loss'].append(test_loss)
        history['test_acc'].append(test_acc)
        print(f'epoch {epoch:2d}  train loss {running / seen:.4f}  test loss {test_loss:.4f}  '
              f'test accuracy {100 * test_acc:.2f}%  ({time.perf_counter() - start:.1f} s)')

    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, 'digits_cnn.ckpt')
    torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                'epoch': args.epochs, 'history': history}, ckpt)
    restored = DigitNet().to(device)
    state = torch.load(ckpt, map_location=device)
    restored.load_state_dict(state['model'])
    _, restored_acc = evaluate(restored, test_loader, device)
    same = 'identical' if restored_acc == history['test_acc'][-1] else 'DIFFERENT'
    print(f'checkpoint {ckpt} reloaded: test accuracy {100 * restored_acc:.2f}% ({same})')
    png = plot(history, model, test_set, device, os.path.join(args.out, 'digits_training.png'))
    if png:
        print(f'learning curves and sample predictions: {png}')
    return history['test_acc'][-1]


if __name__ == '__main__':
    main()
