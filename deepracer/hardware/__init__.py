"""deepracer.hardware"""
