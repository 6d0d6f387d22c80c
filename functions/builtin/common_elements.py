def common_elements(a: list[int], b: list[int]) -> set[int]:
    return set(a) & set(b)
