def count_set_bits(n: int) -> int:
    if n < 0:
        raise ValueError("negative numbers have infinitely many set bits")
    return bin(n).count("1")
