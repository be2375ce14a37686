from paycore.kit.runner import run
from paycore.kit.settings import load_settings

from paycore_web.app import build_app
from paycore_web.settings import Settings


def main() -> None:
    settings = load_settings(Settings)
    run(build_app(settings), settings)


if __name__ == "__main__":
    main()
