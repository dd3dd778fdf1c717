from phase17.cli.start import main

main()
