"""Call recordings and their transcription.

- `recordings.store`: the file layout (date / hotline / Linkedid), permissions, retention, links to
  calls and cases;
- `recordings.audio`, `recordings.speech`: WAV reading and Vosk decoding;
- `recordings.jobs`: durable transcription jobs (enqueue, sweep, claim with a lease, store once);
- `recordings.worker`: the worker loop (`hotline transcribe`);
- `recordings.search`: transcript search and retrieval for QA;
- `recordings.service`: what the CTI server wires in.

Nothing here imports Qt or websockets; Vosk is imported only when a model is loaded.
"""
