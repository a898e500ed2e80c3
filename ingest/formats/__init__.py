"""One module per document format, each turning bytes into normalised text and sections."""
