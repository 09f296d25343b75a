from obskit.cli import main

if __name__ == "__main__":  # spawned gen workers import this module as __mp_main__
    main()
