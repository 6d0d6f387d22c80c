def lookup_or_default(table: dict, key: object, default: object = None) -> object:
    return table.get(key, default)
