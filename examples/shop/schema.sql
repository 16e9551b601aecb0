-- The shop's schema. Portable across SQLite, PostgreSQL and MySQL/MariaDB: VARCHAR keys,
-- INTEGER amounts in cents, ISO-8601 dates as text.
CREATE TABLE customers (
  id VARCHAR(32) PRIMARY KEY,
  email VARCHAR(255) NOT NULL UNIQUE,
  name VARCHAR(255) NOT NULL,
  tier VARCHAR(16) NOT NULL,
  created_at VARCHAR(32) NOT NULL
);
CREATE TABLE categories (
  id VARCHAR(32) PRIMARY KEY,
  name VARCHAR(255) NOT NULL
);
CREATE TABLE products (
  sku VARCHAR(32) PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  category_id VARCHAR(32) NOT NULL REFERENCES categories(id),
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  description VARCHAR(1000) NOT NULL
);
-- SKUs sold as final sale: not returnable (damage reported within 7 days excepted).
CREATE TABLE final_sale_items (
  sku VARCHAR(32) PRIMARY KEY REFERENCES products(sku)
);
CREATE TABLE warehouses (
  id VARCHAR(16) PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  region VARCHAR(32) NOT NULL,
  capacity_units INTEGER NOT NULL
);
CREATE TABLE inventory (
  sku VARCHAR(32) NOT NULL REFERENCES products(sku),
  warehouse_id VARCHAR(16) NOT NULL REFERENCES warehouses(id),
  quantity INTEGER NOT NULL CHECK (quantity >= 0),
  PRIMARY KEY (sku, warehouse_id)
);
CREATE TABLE orders (
  id VARCHAR(32) PRIMARY KEY,
  customer_id VARCHAR(32) NOT NULL REFERENCES customers(id),
  status VARCHAR(16) NOT NULL,
  created_at VARCHAR(32) NOT NULL,
  delivered_at VARCHAR(32),
  total_cents INTEGER NOT NULL
);
CREATE TABLE order_items (
  order_id VARCHAR(32) NOT NULL REFERENCES orders(id),
  line_no INTEGER NOT NULL,
  sku VARCHAR(32) NOT NULL REFERENCES products(sku),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  unit_price_cents INTEGER NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
-- An idempotency key per order request: a retried create_order returns the first order.
CREATE TABLE order_requests (
  idempotency_key VARCHAR(64) PRIMARY KEY,
  order_id VARCHAR(32) NOT NULL,
  request VARCHAR(1000) NOT NULL,
  created_at VARCHAR(32) NOT NULL
);
CREATE TABLE shipments (
  id VARCHAR(32) PRIMARY KEY,
  order_id VARCHAR(32) NOT NULL REFERENCES orders(id),
  carrier VARCHAR(32) NOT NULL,
  tracking_number VARCHAR(64) NOT NULL,
  status VARCHAR(32) NOT NULL,
  shipped_at VARCHAR(32),
  eta VARCHAR(32)
);
CREATE TABLE returns (
  id VARCHAR(32) PRIMARY KEY,
  order_id VARCHAR(32) NOT NULL REFERENCES orders(id),
  sku VARCHAR(32) NOT NULL,
  quantity INTEGER NOT NULL,
  reason VARCHAR(500) NOT NULL,
  status VARCHAR(32) NOT NULL,
  label_ref VARCHAR(32) NOT NULL,
  created_at VARCHAR(32) NOT NULL
);
CREATE TABLE refunds (
  id VARCHAR(32) PRIMARY KEY,
  order_id VARCHAR(32) NOT NULL REFERENCES orders(id),
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  reason VARCHAR(32) NOT NULL,
  idempotency_key VARCHAR(64) NOT NULL UNIQUE,
  created_at VARCHAR(32) NOT NULL
);
CREATE TABLE browsing_history (
  customer_id VARCHAR(32) NOT NULL REFERENCES customers(id),
  sku VARCHAR(32) NOT NULL REFERENCES products(sku),
  viewed_at VARCHAR(32) NOT NULL
);
CREATE TABLE support_tickets (
  id VARCHAR(32) PRIMARY KEY,
  customer_id VARCHAR(32) NOT NULL REFERENCES customers(id),
  order_id VARCHAR(32),
  priority VARCHAR(16) NOT NULL,
  summary VARCHAR(2000) NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at VARCHAR(32) NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX history_customer ON browsing_history(customer_id);
-- Refunds and returns are read (refunds locked, FOR UPDATE) by order: without an index MySQL
-- would lock every row it scans, ranges of the whole table.
CREATE INDEX refunds_order ON refunds(order_id);
CREATE INDEX returns_order ON returns(order_id);
