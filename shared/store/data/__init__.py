"""Data shipped with the store: the paraphrase set used to choose and guard the default retrieval."""
