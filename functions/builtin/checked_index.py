def checked_index(items: list, position: int) -> object:
    if not isinstance(position, int):
        raise TypeError("position must be an int")
    return items[position]
