"""paycore's web pages: the customer's pay-invoice pages and the merchant console."""
