"""The platform's own voice prompts, in Chinese and English, made with a speech synthesiser when no
recording exists.

A centre replaces a prompt by putting a recording (8 kHz mono WAV) at the same name under
`prompts/<lang>/` in the repository; otherwise `hotline asterisk up` synthesises it with espeak-ng
(Mandarin voice `cmn`, English `en`) and sox. Asterisk plays them from `${HOTLINE_SOUNDS}/<lang>/<name>`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

RECORDED = Path(__file__).resolve().parent.parent / "prompts"

PROMPTS: dict[str, dict[str, str]] = {
    "callback-offer": {
        "zh": "如果您不想等待，请按1，我们将在坐席空闲时给您回电。",
        "en": "If you would rather not wait, press 1, and we will call you back as soon as an agent is free.",
    },
    "callback-confirmed": {
        "zh": "已为您登记回电，坐席空闲时我们会立即给您回电。再见。",
        "en": "Your callback is booked. We will call you back as soon as an agent is free. Goodbye.",
    },
    "survey-question": {
        "zh": "请对本次服务进行评价：满意请按1，基本满意请按2，不满意请按3。",
        "en": "Please rate this call: press 1 if you were satisfied, 2 if basically satisfied, 3 if not satisfied.",
    },
    "survey-invalid": {
        "zh": "输入有误。",
        "en": "Sorry, that is not one of the choices.",
    },
    "survey-thanks": {
        "zh": "感谢您的评价，再见。",
        "en": "Thank you for your rating. Goodbye.",
    },
    # the three-way call (agi_scripts.conference, [hotline-conference-announce])
    "conference-connecting": {
        "zh": "正在为您接通相关单位，请稍候。",
        "en": "Please hold on: we are bringing the department concerned into this call.",
    },
    "conference-unit-intro": {
        "zh": "您好，这里是政务服务热线，有市民需要贵单位协助。",
        "en": "Hello, this is the government service hotline. A caller needs your department's help.",
    },
    "conference-case-number": {
        "zh": "工单编号：",
        "en": "The case number is",
    },
    "conference-joining": {
        "zh": "现在接入通话。",
        "en": "Joining the call now.",
    },
    "conference-citizen-left": {
        "zh": "市民已挂断。",
        "en": "The caller has hung up.",
    },
    "conference-agent-left": {
        "zh": "坐席已退出通话。",
        "en": "The agent has left the call.",
    },
    "conference-unit-left": {
        "zh": "协办单位已退出通话。",
        "en": "The department has left the call.",
    },
    **{
        f"digit-{d}": {"zh": zh, "en": en}
        for d, zh, en in zip(
            "0123456789",
            "零幺二三四五六七八九",  # 幺 for 1, as numbers are read out on the telephone
            ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
            strict=True,
        )
    },
}
VOICES = {"zh": "cmn", "en": "en"}
TRIM = [
    "silence",
    "1",
    "0.02",
    "1%",
    "reverse",
    "silence",
    "1",
    "0.02",
    "1%",
    "reverse",
    "tempo",
    "1.3",
    "pad",
    "0",
    "0.08",
]
"""sox effects for a digit: cut the silence before and after the speech, speak it 1.3 times as fast (a number
is read out at a brisker pace than a sentence), leave a short pause after it."""


class PromptError(Exception):
    pass


def install_prompts(dest: Path) -> list[Path]:
    """Write every prompt in every language under dest/<lang>/<name>.wav (8 kHz, 16-bit, mono), with
    <name>.src beside it saying what it was made from (the text, or `recorded`); a file whose source is
    unchanged is kept, so this is cheap after the first time, and a prompt whose text changed is made again.
    Digits (`digit-N`) lose the synthesiser's leading and trailing silence: they are played one after the
    other to read a number out."""
    written = []
    for name, texts in PROMPTS.items():
        for lang, text in texts.items():
            target = dest / lang / f"{name}.wav"
            recorded = RECORDED / lang / f"{name}.wav"
            source = "recorded" if recorded.exists() else text
            stamp = target.with_suffix(".src")
            if target.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == source:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if recorded.exists():
                shutil.copyfile(recorded, target)
            else:
                _synthesise(text, VOICES[lang], target, trim=name.startswith("digit-"))
            stamp.write_text(source, encoding="utf-8")
            written.append(target)
    return written


def _synthesise(text: str, voice: str, target: Path, *, trim: bool = False) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise PromptError("espeak-ng and sox are needed to make the voice prompts (scripts/setup.sh installs them)")
    raw = target.with_suffix(".raw.wav")
    try:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target), *TRIM * trim],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        raise PromptError(f"could not make prompt {target.name}: {exc.stderr.decode(errors='replace')}") from exc
    finally:
        raw.unlink(missing_ok=True)
