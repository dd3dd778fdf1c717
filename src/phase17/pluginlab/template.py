"""A minimal out-of-tree platform plugin, written from the contract at the pin: a pyproject.toml with the
`vllm.platform_plugins` entry point, a `register()` that returns the class's qualified name, and a Platform subclass
with the attributes the engine reads and every hook it calls, each with the base's exact signature and what the
engine expects of it. `phase17 plugins check` finds no error in it; it installs without vLLM."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from phase17.errors import WriteError
from phase17.instruments.classes import Member
from phase17.instruments.contract import BASE_NAME, BASE_PATH, build_contract
from phase17.pluginlab.calls import Parameters, calls_by_name
from phase17.pluginlab.check import PLATFORM_ATTRIBUTES
from phase17.pluginlab.source import PLATFORM_GROUP, PluginError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def write_plugin(upstream: Path, name: str, folder: Path) -> Path:
    """Write the plugin `name` (a Python package name: my_device) into `folder`, which must not exist yet."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise PluginError(f"{name!r}: a plugin's name here is a Python package name, such as my_device.")
    if folder.exists():
        raise WriteError(f"{folder} exists; give a new folder with --dir, or remove it.")
    contract = build_contract(upstream, BASE_NAME, BASE_PATH)
    calls = calls_by_name(upstream, ("vllm",))
    hooks = [
        member
        for member in contract.base.members
        if member.kind == "method" and (member.name in calls or member.abstract) and not member.name.startswith("__")
    ]
    docs = _first_docstring_lines(upstream)
    package = f"{name}_plugin"
    cls = "".join(part.title() for part in name.split("_")) + "Platform"
    (folder / package).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{name.replace("_", "-")}-plugin"
version = "0.1.0"
description = "An out-of-tree vLLM platform for {name}."
requires-python = ">=3.10"

[project.entry-points."{PLATFORM_GROUP}"]
{name} = "{package}:register"

[tool.setuptools]
packages = ["{package}"]
""",
        encoding="utf-8",
    )
    (folder / package / "__init__.py").write_text(
        f'''"""The {name} platform plugin: at start-up vLLM calls register() to learn whether the device is there."""


def register() -> str | None:
    """The qualified name of the Platform subclass when the device is there, else None (vLLM then tries others)."""
    return "{package}.platform.{cls}"
''',
        encoding="utf-8",
    )
    (folder / package / "platform.py").write_text(_platform_module(cls, name, hooks, docs), encoding="utf-8")
    return folder


def _platform_module(cls: str, name: str, hooks: list[Member], docs: dict[str, str]) -> str:
    values = {"device_name": f'"{name}"', "device_type": f'"{name}"', "dispatch_key": '"PrivateUse1"'}
    values["dist_backend"] = '"gloo"'
    lines = [
        f'"""{cls}: what vLLM asks of the {name} device. Each hook has the signature of vLLM\'s Platform at the pin;',
        'fill in the bodies (phase17 plugins check . says what the engine would fail on)."""',
        "",
        "from __future__ import annotations",
        "",
        "from vllm.platforms.interface import Platform, PlatformEnum",
        "",
        "",
        f"class {cls}(Platform):",
        "    _enum = PlatformEnum.OOT",
    ]
    lines += [f"    {attribute} = {values[attribute]}" for attribute in PLATFORM_ATTRIBUTES]
    for hook in hooks:
        parameters = Parameters.of(hook.signature, hook.form)
        if parameters is None:
            continue
        lines.append("")
        if hook.form != "method":
            lines.append(f"    @{hook.form}")
        lines.append(f"    def {hook.name}{hook.signature}:")
        what = docs.get(hook.name) or f"What vLLM's Platform.{hook.name} does, for the {name} device."
        lines.append(f'        """{what.replace(chr(34) * 3, "")}"""')
        if hook.form == "property":
            lines.append(f"        return super().{hook.name}")
        elif hook.abstract:
            lines.append(f'        raise NotImplementedError("{hook.name} for the {name} device")')
        else:
            arguments = ", ".join(
                [*parameters.positional, *(f"{key}={key}" for key in sorted(parameters.keyword_only))]
                + (["*args"] if parameters.star_args else [])
                + (["**kwargs"] if parameters.star_kwargs else [])
            )
            lines.append(f"        return super().{hook.name}({arguments})")
    return "\n".join(lines) + "\n"


def _first_docstring_lines(upstream: Path) -> dict[str, str]:
    from phase17.index.lookup import file_definitions

    return {
        symbol.qualname.split(".", 1)[1]: symbol.docstring
        for symbol in file_definitions(upstream, BASE_PATH)
        if symbol.qualname.startswith(f"{BASE_NAME}.") and symbol.docstring and symbol.qualname.count(".") == 1
    }
