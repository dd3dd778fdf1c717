from phase17.start import main

main()
