"""Customs played for tests and demos: the simulator and a fake HTTP gateway."""
