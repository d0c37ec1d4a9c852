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
}
VOICES = {"zh": "cmn", "en": "en"}


class PromptError(Exception):
    pass


def install_prompts(dest: Path) -> list[Path]:
    """Write every prompt in every language under dest/<lang>/<name>.wav (8 kHz, 16-bit, mono); an
    existing file is kept, so this is cheap after the first time."""
    written = []
    for name, texts in PROMPTS.items():
        for lang, text in texts.items():
            target = dest / lang / f"{name}.wav"
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            recorded = RECORDED / lang / f"{name}.wav"
            if recorded.exists():
                shutil.copyfile(recorded, target)
            else:
                _synthesise(text, VOICES[lang], target)
            written.append(target)
    return written


def _synthesise(text: str, voice: str, target: Path) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise PromptError("espeak-ng and sox are needed to make the voice prompts (scripts/setup.sh installs them)")
    raw = target.with_suffix(".raw.wav")
    try:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target)],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        raise PromptError(f"could not make prompt {target.name}: {exc.stderr.decode(errors='replace')}") from exc
    finally:
        raw.unlink(missing_ok=True)
