"""The rnn_lstm assignment pack: RNN and LSTM cells, BPTT (full and truncated), stacked and
bidirectional layers, gradient flow."""
