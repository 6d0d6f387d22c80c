def symmetric_difference_size(a: set[int], b: set[int]) -> int:
    return len(a ^ b)
