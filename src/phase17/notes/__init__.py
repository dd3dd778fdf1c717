"""The reader's side: the reading list, the notes files, citations, the notebook flows and the exports."""
