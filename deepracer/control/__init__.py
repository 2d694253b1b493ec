"""deepracer.control"""
