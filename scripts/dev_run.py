"""`make run`: a development hub on the embedded SQLite database, web and worker together.

Creates `.ess-dev.env` once (a generated SECRET_KEY, ESS_ENCRYPTION_KEYS and admin
password), migrates, collects static files, creates or updates the superuser `admin`,
prints how to log in, then hands over to honcho, which runs the Procfile's `web` and
`worker` until Ctrl-C. Must never serve production: DEBUG is on and the secrets sit in
a plain file beside the code.
"""

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".ess-dev.env"
ADMIN_USER = "admin"


def dev_env_create(path: Path) -> None:
    """Write the development secrets once; later runs keep them, so sessions and stored secrets survive."""
    from cryptography.fernet import Fernet

    lines = [
        "# Development settings written once by `make run` (git-ignored). Never use them in production.",
        f"SECRET_KEY={secrets.token_urlsafe(50)}",
        f"ESS_ENCRYPTION_KEYS={Fernet.generate_key().decode()}",
        f"ESS_DEV_ADMIN_PASSWORD={secrets.token_urlsafe(12)}",
        "DEBUG=1",
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def dev_env_read(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def admin_user_ensure(password: str) -> None:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=ADMIN_USER)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()


def main() -> None:
    os.chdir(ROOT)
    if not ENV_FILE.exists():
        dev_env_create(ENV_FILE)
        print(f"Created {ENV_FILE.name} with a new SECRET_KEY, encryption key and admin password.")
    values = dev_env_read(ENV_FILE)
    os.environ.update(values)
    # The embedded default, whatever the calling shell holds.
    os.environ.pop("DATABASE_URL", None)
    os.environ["DEBUG"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    # The Procfile's `gunicorn` and `python` are this virtualenv's.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    sys.path.insert(0, str(ROOT))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=1)
    call_command("collectstatic", interactive=False, verbosity=0)
    admin_user_ensure(values["ESS_DEV_ADMIN_PASSWORD"])
    from django.db import connections

    connections.close_all()

    port = os.environ.get("PORT") or "8000"
    base = f"http://127.0.0.1:{port}"
    print(
        f"\nThe hub is starting at {base}/ (SQLite file db.sqlite3, subscriber files in subscribers/)\n"
        f"  Admin:    {base}/admin/   user: {ADMIN_USER}   password: {values['ESS_DEV_ADMIN_PASSWORD']}\n"
        f"  API docs: {base}/ess/docs\n"
        f"  The password is kept in {ENV_FILE.name}. Ctrl-C stops the web server and the worker.\n",
        flush=True,
    )
    honcho = os.path.join(bin_dir, "honcho")
    os.execv(honcho, [honcho, "start", "--env", ENV_FILE.name, "--port", port])


if __name__ == "__main__":
    main()
