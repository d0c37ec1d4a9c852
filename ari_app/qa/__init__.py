"""Quality assurance (质检): the QA view's calls, transcripts, recordings and scores.

service.py     the queries: search recorded calls, one call's detail, open and read a recording, score
desk.py        the link side: the five QA requests, each connection's playbacks
recordings.py  the server's side of recordings.service: which ended calls get their recording checked, and
               the audit entry of a recording that failed its check
"""
