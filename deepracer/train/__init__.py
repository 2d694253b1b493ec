"""deepracer.train"""
