"""turnout.cli"""
