def invert_mapping(mapping: dict) -> dict:
    inverted = {}
    for key, value in mapping.items():
        if value in inverted:
            raise KeyError(f"duplicate value {value!r}")
        inverted[value] = key
    return inverted
