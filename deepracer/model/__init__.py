"""deepracer.model"""
