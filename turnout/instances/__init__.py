"""turnout.instances"""
