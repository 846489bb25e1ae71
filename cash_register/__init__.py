"""The cash register service: tills post every sale here."""
