"""`python -m targeting` runs the command line."""
from targeting.cli import main

main()
