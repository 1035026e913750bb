"""turnout.deploy"""
