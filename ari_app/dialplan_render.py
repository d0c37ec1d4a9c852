"""Render the deployment-specific Asterisk files from config.yaml.

The hand-edited files in dialplan/ `#include` what this writes, so the hotline table, trunks, agents and
queue in Asterisk always match config.yaml. Secrets are only filled in when installing into a running
Asterisk's folder (`include_secrets=True`), never when printing for review.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ari_app.calls.numbers import NumberPlan
from ari_app.config import Config, ConfigError, ConfigIssue, Secret

DIALPLAN_DIR = Path(__file__).resolve().parent.parent / "dialplan"
STATIC_FILES = (
    "extensions.conf",
    "pjsip.conf",
    "queues.conf",
    "modules.conf",
    "logger.conf",
    "cdr.conf",
    "musiconhold.conf",
    "confbridge.conf",
)
TEMPLATES = ("manager.conf.template", "http.conf.template", "ari.conf.template")
FASTAGI_PORT = 4573  # the CTI server's FastAGI listener (in-call scripts: the satisfaction survey)
DEFAULT_SOUNDS = "/var/lib/hotline/sounds"  # where the platform's prompts are, as Asterisk sees the path
HEADER = "; Generated from {config} by `hotline config render`. Do not edit: edit config.yaml and render again.\n"


def _quote(text: str) -> str:
    """Asterisk config values cannot hold newlines or ';' (a comment)."""
    if any(ch in text for ch in "\n\r;"):
        raise ValueError(f"value not allowed in Asterisk config: {text!r}")
    return text


def render_extensions(cfg: Config) -> str:
    lines = [HEADER.format(config=cfg.path.name)]
    lines.append("; The hotline table: each configured hotline number enters [hotline-inbound].")
    lines.append("[hotline-numbers]")
    for h in cfg.hotlines:
        lines.append(f"; {h.number} {h.name_en} ({h.mode.value}), managed by {_quote(h.unit)}")
        limit = h.max_calls if h.max_calls is not None else cfg.admission.max_calls
        lines.append(f"exten => {h.number},1,Set(__HOTLINE_MAX_CALLS={limit})")
        lines.append(" same => n,Goto(hotline-inbound,${EXTEN},1)")
    lines.append("")
    lines.extend(_render_trunk_forms(cfg))
    lines.append("; The queue's exit context: the callback key leaves the queue to book a callback.")
    lines.append("[hotline-queue-exit]")
    if cfg.callback.enabled:
        lines.append(f"exten => {cfg.callback.digit},1,Goto(hotline-callback-request,s,1)")
    lines.append("")
    lines.append("; Agents' extensions, for agent-to-agent calls.")
    lines.append("[agent-extensions]")
    for a in cfg.agents:
        lines.append(f"exten => {a.extension},1,Dial(PJSIP/{a.extension},30)")
        lines.append(" same => n,Hangup()")
    lines.append("")
    lines.append("; The linkage partners (110/119/120): each key dials the partner's number through its trunk, the")
    lines.append("; same dial string the CTI server's one-key transfer and three-way call use (Partner.dial).")
    lines.append("[hotline-linkage]")
    for p in cfg.linkage:
        lines.append(f"; {p.key} {_quote(p.name_en)}")
        lines.append(f"exten => {p.key},1,Dial({p.dial},60)")
        lines.append(" same => n,Hangup()")
    return "\n".join(lines) + "\n"


TRUNK_FORMS_CONTEXT = "hotline-numbers-{trunk}"
"""The generated table of the forms one trunk delivers hotline numbers in ([from-carrier] picks it by the
channel's PJSIP endpoint, which is the trunk's name)."""


def _render_trunk_forms(cfg: Config) -> list[str]:
    """One context per trunk: every form its carrier may deliver each hotline number in (with country code,
    trunk prefix, area code, carrier prefix: ari_app.calls.numbers.NumberPlan.dialed_forms, computed here
    with phonenumbers so the call itself runs no script). Each form keeps the number as dialed in
    HOTLINE_DIALED (inherited by the agent's channel) and enters the hotline's entry in [hotline-numbers]."""
    plan = NumberPlan.from_config(cfg)
    lines: list[str] = []
    for trunk in cfg.trunks:
        lines.append(f"; Carrier trunk {trunk.name}: {_quote(trunk.numbers.describe())}.")
        lines.append(f"[{TRUNK_FORMS_CONTEXT.format(trunk=trunk.name)}]")
        for form, number in plan.dialed_forms(trunk.name).items():
            lines.append(f"exten => {form},1,Set(__HOTLINE_DIALED=${{EXTEN}})")
            lines.append(f" same => n,Goto(hotline-numbers,{number},1)")
        lines.append("")
    return lines


def render_globals(cfg: Config, sounds_dir: str = DEFAULT_SOUNDS) -> str:
    return (
        HEADER.format(config=cfg.path.name)
        + f"HOTLINE_SOUNDS={_quote(sounds_dir)}\n"
        + "PROMPT_LANG=zh\n"
        + f"FASTAGI_HOST={cfg.server.host}\n"
        + f"FASTAGI_PORT={FASTAGI_PORT}\n"
        + f"RECORDINGS_DIR={_quote(str(cfg.recordings_path))}\n"
        + f"QUEUE_NAME={cfg.queue.name}\n"
        + f"QUEUE_MAX_WAIT={cfg.queue.max_wait}\n"
        + f"MAX_CALLS={cfg.admission.max_calls}\n"
        + f"MAX_ANNOUNCEMENTS={cfg.admission.max_announcements}\n"
        + f"QUEUE_ANNOUNCE_FREQUENCY={cfg.admission.announce_frequency}\n"
        + f"CALLBACK_ENABLED={1 if cfg.callback.enabled else 0}\n"
    )


AGI_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def fastagi_secret(cfg: Config) -> str:
    """The FastAGI shared secret (config `asterisk.agi`), its file created with a random value when missing.
    It goes into the AGI URL, so it must be 16-128 URL-safe characters (A-Z a-z 0-9 _ -); ConfigError
    otherwise, or when it cannot be found."""
    secret = cfg.asterisk.agi
    secret.ensure_file()
    value = secret.value()
    if not AGI_SECRET_SHAPE.match(value):
        shape = "the FastAGI secret must be 16-128 characters A-Z a-z 0-9 _ -"
        raise ConfigError([ConfigIssue(str(cfg.path), 0, "asterisk.agi", shape)])
    return value


def render_agi(cfg: Config, *, include_secrets: bool) -> str:
    """hotline_agi.conf, included in [globals] of extensions.conf: FASTAGI_SECRET, which the dialplan puts in
    every FastAGI URL (`agi://host:port/<script>?secret=${FASTAGI_SECRET}`). Installed like every rendered
    file (`write_config_file`: readable by Asterisk's group only)."""
    value = fastagi_secret(cfg) if include_secrets else "@SECRET@"
    return HEADER.format(config=cfg.path.name) + f"FASTAGI_SECRET={value}\n"


def render_pjsip(cfg: Config, *, include_secrets: bool) -> str:
    sip = cfg.asterisk.sip
    out = [HEADER.format(config=cfg.path.name)]
    out.append(f"[transport-udp]\ntype=transport\nprotocol=udp\nbind={sip.host}:{sip.port}\n")
    for t in cfg.trunks:
        out.append(f"; Carrier trunk {t.name}: identified by the address its calls come from.")
        out.append(f"[{t.name}](carrier-endpoint)\ntransport=transport-udp\naors={t.name}\n")
        out.append(f"[{t.name}]\ntype=aor\n" + "".join(f"contact=sip:{a.split('/')[0]}:5060\n" for a in t.addresses))
        out.append(f"[{t.name}]\ntype=identify\nendpoint={t.name}\n" + "".join(f"match={a}\n" for a in t.addresses))
    for a in cfg.agents:
        out.append(f"; Agent {a.id} ({_quote(a.name)}), languages {', '.join(a.languages)}.")
        auth = ""
        if a.contact is None:
            auth = f"auth={a.extension}\n"
        out.append(
            f"[{a.extension}](agent-endpoint)\ntransport=transport-udp\naors={a.extension}\n{auth}"
            f'callerid="{_quote(a.name)}" <{a.extension}>\n'
        )
        if a.contact is not None:
            out.append(f"[{a.extension}]\ntype=aor\ncontact={a.contact}\n")
        else:
            out.append(f"[{a.extension}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\nqualify_frequency=30\n")
            secret = a.secret.value() if (include_secrets and a.secret is not None) else "@SECRET@"
            out.append(f"[{a.extension}]\ntype=auth\nauth_type=userpass\nusername={a.extension}\npassword={secret}\n")
    return "\n".join(out)


def render_queues(cfg: Config) -> str:
    """hotline_queues.conf: the one queue. It announces nothing itself (queues.conf: a key pressed during
    app_queue's position announcement is lost); the dialplan's [hotline-queue-announce] does, every
    QUEUE_ANNOUNCE_FREQUENCY seconds (render_globals)."""
    q = cfg.queue
    return (
        HEADER.format(config=cfg.path.name)
        + f"[{q.name}](hotline-queue-defaults)\n"
        + f"strategy={q.strategy}\n"
        + f"timeout={q.ring_timeout}\n"
        + "retry=1\n"
        + f"wrapuptime={q.wrapup}\n"
        + f"maxlen={cfg.admission.max_queue}\n"
    )


def render_templates(cfg: Config, *, include_secrets: bool) -> dict[str, str]:
    ast = cfg.asterisk

    def secret(value: Secret | None) -> str:
        if not include_secrets or value is None:
            return "@SECRET@"
        return value.value()

    values = {
        "@AMI_HOST@": ast.ami.host,
        "@AMI_PORT@": str(ast.ami.port),
        "@AMI_USER@": ast.ami.username,
        "@AMI_SECRET@": secret(ast.ami.secret),
        "@ARI_HOST@": ast.ari.host,
        "@ARI_PORT@": str(ast.ari.port),
        "@ARI_USER@": ast.ari.username,
        "@ARI_SECRET@": secret(ast.ari.secret),
    }
    out = {}
    for name in TEMPLATES:
        text = (DIALPLAN_DIR / name).read_text(encoding="utf-8")
        for key, val in values.items():
            text = text.replace(key, _quote(val))
        out[name.removesuffix(".template")] = text
    return out


def render_all(cfg: Config, *, include_secrets: bool, sounds_dir: str = DEFAULT_SOUNDS) -> dict[str, str]:
    """The generated files, by file name (the hotline_*.conf includes and the filled-in templates).
    `sounds_dir` is where Asterisk finds the platform's prompts (ari_app.prompts), as Asterisk sees it."""
    files = {
        "hotline_extensions.conf": render_extensions(cfg),
        "hotline_globals.conf": render_globals(cfg, sounds_dir),
        "hotline_pjsip.conf": render_pjsip(cfg, include_secrets=include_secrets),
        "hotline_queues.conf": render_queues(cfg),
        "hotline_agi.conf": render_agi(cfg, include_secrets=include_secrets),
    }
    files.update(render_templates(cfg, include_secrets=include_secrets))
    return files


def write_config_file(path: Path, text: str, group: int | None) -> None:
    """Write one of Asterisk's configuration files so that no other local user can ever read it: the
    content goes to a temporary file created 0600 in the same folder, which is given to root:`group`
    0640 (`group` is Asterisk's, when this process is root) or kept 0600 (no `group`: the file is this
    user's, and Asterisk runs as this user), then renamed over `path`. Raises OSError."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        if group is not None:
            os.fchown(fd, 0, group)
            os.fchmod(fd, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install(cfg: Config, etc_dir: Path, sounds_dir: str = DEFAULT_SOUNDS, group: int | None = None) -> list[Path]:
    """Write the static dialplan files and the rendered ones (with secrets) into Asterisk's config folder,
    each root:`group` 0640 (or 0600, this user's, without `group`: see `write_config_file`)."""
    etc_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    written = []
    for name in STATIC_FILES:
        target = etc_dir / name
        write_config_file(target, (DIALPLAN_DIR / name).read_text(encoding="utf-8"), group)
        written.append(target)
    for name, text in render_all(cfg, include_secrets=True, sounds_dir=sounds_dir).items():
        target = etc_dir / name
        write_config_file(target, text, group)
        written.append(target)
    return written
