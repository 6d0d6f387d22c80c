"""The hidden target functions: specs, loaders, quirk detection, splits and the built-in suite."""
