"""A hostile submission: every LSTM function ends the process it runs in, as if grading had finished."""
import os
import sys


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    sys.exit(0)


def lstm_step_backward(dnext_h, dnext_c, cache):
    sys.exit(0)


def lstm_forward(x, h0, Wx, Wh, b):
    os._exit(0)


def lstm_backward(dh, cache):
    os._exit(0)
