"""deepracer.analysis"""
