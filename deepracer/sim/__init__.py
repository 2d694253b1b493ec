"""deepracer.sim"""
