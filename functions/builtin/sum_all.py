def sum_all(*numbers: int) -> int:
    total = 0
    for n in numbers:
        total += n
    return total
