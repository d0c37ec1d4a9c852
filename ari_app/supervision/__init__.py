"""Supervision (班长席): the live wallboard, a supervisor's actions on agents, listening in, and alarms.

wallboard.py   today's figures per hotline and agent from the call records; TodayCalls, the live tally
spy.py         listen, whisper or barge: the supervisor's phone called into [hotline-spy] (ChanSpy)
desk.py        the link side: the wallboard pushed to supervisors, supervise_agent, alarm pushes
"""
