"""Benchmarks: synthetic catalogue generators and HTTP measurements (see README.md)."""
