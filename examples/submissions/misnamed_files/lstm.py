"""Wrong file name: should be lstm_layers.py."""
