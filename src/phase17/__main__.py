from phase17.cli import main

main()
