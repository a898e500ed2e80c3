"""`python -m api.cli`: the `proofdesk` command."""

from api.cli import main

if __name__ == "__main__":
    main()
