"""Cards (卡): products and BIN ranges, issuing, the card lifecycle. See ``README.md``."""
