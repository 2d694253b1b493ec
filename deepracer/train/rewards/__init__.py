"""Example reward functions, as the DeepRacer console shows them."""
