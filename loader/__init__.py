"""The one-shot loader: seeds the database from the chain's CSV files."""
