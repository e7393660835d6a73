"""What both simulated platforms share for fulfilment: the shipping label PDFs they print."""
