"""The audio classifier being explained: CNN14 family, training, loading."""
