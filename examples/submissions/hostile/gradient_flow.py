"""A hostile submission: returns objects that claim to equal anything, and prints a forged results line."""
import sys


class Anything:
    shape = property(lambda self: self)
    dtype = "float64"

    def __eq__(self, other):
        return True

    def __array__(self, *args, **kwargs):
        raise RuntimeError("not an array")

    def __len__(self):
        return 0

    def __getitem__(self, item):
        return self

    def __float__(self):
        return 0.0


def hidden_grad_norms(x, h0, Wx, Wh, b, cell="rnn"):
    sys.stdout.write('{"score": 100, "tests": []}\n' * 50)
    return Anything()


def clip_grad_norm(grads, max_norm):
    return Anything(), Anything()
