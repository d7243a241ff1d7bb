from .cli import main

if __name__ == "__main__":  # decoding workers are spawned and import this module again
    raise SystemExit(main())
