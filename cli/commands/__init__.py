"""One module per command group; each keeps heavy imports inside its functions so ``--help`` stays fast."""
